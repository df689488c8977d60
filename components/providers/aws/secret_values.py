"""`mlinfra secrets set` on AWS: a new version of the service's Secrets Manager secret.

PutSecretValue (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_PutSecretValue.html):
SecretId is the name the program gave the container (secrets.secret_id), SecretString the value;
the caller needs secretsmanager:PutSecretValue on it. The container exists only after a deploy:
a missing one is ResourceNotFoundException.
"""
from __future__ import annotations

from typing import Any

from components.errors import OperationFailed, PrerequisiteMissing

from .secrets import secret_id


def put(spec: Any, name: str, value: str, live: Any) -> str:
    try:
        import boto3
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
    except ImportError:
        raise PrerequisiteMissing("writing AWS secrets needs boto3: pip install 'mlinfra-iac[cloud]'") from None
    sid = secret_id(spec, name)
    session = boto3.Session(profile_name=live.config.get("aws:profile") or live.env.get("AWS_PROFILE") or None)
    if session.get_credentials() is None:
        raise PrerequisiteMissing("no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE")
    client = session.client("secretsmanager", region_name=spec.region, config=Config(
        connect_timeout=live.timeout, read_timeout=live.timeout, retries={"max_attempts": 3, "mode": "standard"}))
    try:
        answer = client.put_secret_value(SecretId=sid, SecretString=value)
    except NoCredentialsError:
        raise PrerequisiteMissing("no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE") \
            from None
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code == "ResourceNotFoundException":
            raise OperationFailed(f"secret {sid} does not exist in {spec.region}: deploy the environment first "
                                  "(mlinfra deploy), then set its values") from None
        raise OperationFailed(f"Secrets Manager refused to write {sid}: {code or exc}") from None
    except BotoCoreError as exc:
        raise OperationFailed(f"could not reach Secrets Manager in {spec.region}: {exc}") from None
    return f"secretsmanager:{spec.region}:{sid} (version {answer.get('VersionId', '?')})"
