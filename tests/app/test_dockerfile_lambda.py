"""The serving image runs on Lambda too (serving.backend: lambda): it carries the Lambda Web Adapter.

AWS Lambda Web Adapter README: add `COPY --from=public.ecr.aws/awsguru/aws-lambda-adapter:<version>
/lambda-adapter /opt/extensions/lambda-adapter` to the Dockerfile; Lambda starts extensions found in
/opt/extensions ("Lambda extensions": "extensions ... in the /opt/extensions directory"). The adapter
forwards to AWS_LWA_PORT and waits for AWS_LWA_READINESS_CHECK_PATH, which the AWS program sets.
"""
from __future__ import annotations

import re
from pathlib import Path

DOCKERFILE = Path(__file__).resolve().parents[2] / "app" / "Dockerfile"


def runtime_stage() -> str:
    text = DOCKERFILE.read_text()
    return text[text.index(" AS runtime"):]


def test_runtime_stage_installs_the_adapter_as_an_extension():
    copy = re.search(r"^COPY --from=public\.ecr\.aws/awsguru/aws-lambda-adapter:(\S+) /lambda-adapter "
                     r"/opt/extensions/lambda-adapter$", runtime_stage(), re.MULTILINE)
    assert copy, "the runtime stage must copy the adapter into /opt/extensions"
    assert re.fullmatch(r"\d+\.\d+\.\d+", copy.group(1)), "a pinned adapter version, never latest"


def test_lambda_backend_points_the_adapter_at_the_app():
    # The adapter forwards to AWS_LWA_PORT and holds invokes until AWS_LWA_READINESS_CHECK_PATH answers
    # (README "Configurations"): the app's port and its readiness route, in the dev plan's function.
    from tests.helpers import PROJECT_DIR
    from stacks.offline import plan_environment

    plan = plan_environment(PROJECT_DIR, "dev", "aws")
    [function] = plan.of_type("aws:lambda/function:Function")
    env = function.inputs["environment"]["variables"]
    assert env["AWS_LWA_PORT"] == env["PORT"]
    assert env["AWS_LWA_READINESS_CHECK_PATH"] == "/v2/health/ready"
    assert function.inputs["packageType"] == "Image" and "@sha256:" in function.inputs["imageUri"]
