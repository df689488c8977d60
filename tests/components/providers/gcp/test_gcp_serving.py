"""Serving on GCP: Cloud Run (serverless) and a regional instance group behind the load balancer (VM)."""
from __future__ import annotations

import re

import pytest

from tests.helpers import inputs, one

from .util import IMAGE, REGION, VM, named, names, plan_gcp

RUN = "gcp:cloudrunv2/service:Service"
INVOKER = "gcp:cloudrunv2/serviceIamMember:ServiceIamMember"
FIREWALL = "gcp:compute/firewall:Firewall"
SA = "gcp:serviceaccount/account:Account"
OPEN = {"0.0.0.0/0", "::/0"}


@pytest.fixture(scope="module")
def serverless():
    return plan_gcp({"serving": {"image": IMAGE, "min_instances": 0, "max_instances": 7, "concurrency": 40, "cpu": 2,
                                 "memory_gib": 4, "port": 9000, "health_path": "/ready", "liveness_path": "/live",
                                 "env": {"LOG_LEVEL": "debug"}}})


@pytest.fixture(scope="module")
def internal():
    return plan_gcp({"serving": {"image": IMAGE, "ingress": "internal", "min_instances": 1}})


@pytest.fixture(scope="module")
def vm():
    return plan_gcp(VM, env="prod")


# -- serverless -------------------------------------------------------------------------------
def test_cloud_run_scaling_sizes_and_image(serverless):
    run = inputs(serverless, RUN)
    assert run["name"] == "digits-dev-serve" and run["location"] == REGION
    t = run["template"]
    assert t["scaling"] == {"minInstanceCount": 0, "maxInstanceCount": 7}
    assert t["maxInstanceRequestConcurrency"] == 40
    (c,) = t["containers"]
    assert c["image"] == IMAGE
    assert c["ports"] == {"containerPort": 9000}
    assert c["resources"]["limits"] == {"cpu": "2", "memory": "4096Mi"}
    envs = {e["name"]: e["value"] for e in c["envs"]}
    assert envs["LOG_LEVEL"] == "debug"
    assert envs["MODEL_URI"] == f"{serverless.outputs['bucket_url']}/models/digits/current/"  # components/release.py


def test_cloud_run_gets_no_reserved_port_variable(serverless):
    # "The PORT environment variable is injected inside your container by Cloud Run. You should not set
    # it yourself" (https://cloud.google.com/run/docs/configuring/services/environment-variables).
    names = {e["name"] for e in inputs(serverless, RUN)["template"]["containers"][0]["envs"]}
    assert not names & {"PORT", "K_SERVICE", "K_REVISION", "K_CONFIGURATION"}


def test_app_admits_what_cloud_run_sends(serverless):
    # Cloud Run sends up to maxInstanceRequestConcurrency requests to one instance; the app answers 503
    # above MAX_CONCURRENCY (app/limits.py). Equal, so nothing is shed before the autoscaler adds instances.
    t = inputs(serverless, RUN)["template"]
    envs = {e["name"]: e["value"] for e in t["containers"][0]["envs"]}
    assert int(envs["MAX_CONCURRENCY"]) == t["maxInstanceRequestConcurrency"] == 40


def test_cloud_run_probes_use_the_health_paths(serverless):
    c = inputs(serverless, RUN)["template"]["containers"][0]
    assert c["startupProbe"]["httpGet"] == {"path": "/ready", "port": 9000}
    assert c["livenessProbe"]["httpGet"] == {"path": "/live", "port": 9000}


def test_cloud_run_runs_as_the_serving_account(serverless):
    run = inputs(serverless, RUN)
    sa = inputs(serverless, SA)
    assert sa["accountId"] == "digits-dev-serve"
    email = "digits-dev-serve@mlinfra-mock-project.iam.gserviceaccount.com"
    assert run["template"]["serviceAccount"] == email == serverless.outputs["serving_identity"]
    assert run["labels"]["managed-by"] == "mlinfra"
    assert run["deletionProtection"] is False  # dev


def test_public_ingress_disables_the_invoker_check(serverless):
    # Google's recommended public service: disable the Invoker IAM check; an allUsers invoker grant fails
    # under the Domain Restricted Sharing org policy (https://cloud.google.com/run/docs/authenticating/public).
    run = inputs(serverless, RUN)
    assert run["ingress"] == "INGRESS_TRAFFIC_ALL" and run["invokerIamDisabled"] is True
    assert serverless.of_type(INVOKER) == []
    assert re.fullmatch(r"https://digits-dev-serve-[0-9a-f]{10}-ew\.a\.run\.app", serverless.outputs["endpoint"])


def test_internal_ingress_grants_nobody(internal):
    run = inputs(internal, RUN)
    assert run["ingress"] == "INGRESS_TRAFFIC_INTERNAL_ONLY"
    assert run.get("invokerIamDisabled") in (None, False)  # callers still need roles/run.invoker
    assert internal.of_type(INVOKER) == []


def test_serverless_has_no_vms_or_load_balancer(serverless):
    assert not [r for r in serverless.resources if r.type.startswith("gcp:compute/")]


def test_serving_identity_reads_models_and_pulls_only(serverless):
    grants = serverless.of_type("gcp:storage/bucketIAMMember:BucketIAMMember")
    assert [g.inputs["role"] for g in grants] == ["roles/storage.objectViewer"]
    bucket = serverless.outputs["bucket"]
    expr = grants[0].inputs["condition"]["expression"]
    assert f'resource.name.startsWith("projects/_/buckets/{bucket}/objects/models/")' in expr
    assert "objectListPrefix" in expr and "data/" not in expr and "runs/" not in expr
    reg = inputs(serverless, "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember")
    assert reg["role"] == "roles/artifactregistry.reader"
    assert reg["repository"] == f"projects/mlinfra-mock-project/locations/{REGION}/repositories/digits-dev"
    assert serverless.of_type("gcp:projects/iAMMember:IAMMember") == []  # no project-wide role at all


def test_custom_domain_goes_through_the_load_balancer():
    plan = plan_gcp({"serving": {"image": IMAGE, "domain": "api.example.com"}})
    neg = inputs(plan, "gcp:compute/regionNetworkEndpointGroup:RegionNetworkEndpointGroup")
    assert neg["networkEndpointType"] == "SERVERLESS" and neg["cloudRun"] == {"service": "digits-dev-serve"}
    cert = inputs(plan, "gcp:compute/managedSslCertificate:ManagedSslCertificate")
    assert cert["managed"] == {"domains": ["api.example.com"]}
    https = named(plan, "digits-dev-https-rule").inputs
    assert https["portRange"] == "443" and https["loadBalancingScheme"] == "EXTERNAL_MANAGED"
    redirect = named(plan, "digits-dev-http-redirect").inputs
    assert redirect["defaultUrlRedirect"]["httpsRedirect"] is True
    assert plan.outputs["endpoint"] == "https://api.example.com"


# -- VM mode ----------------------------------------------------------------------------------
def test_autoscaler_min_max_and_cpu_target(vm):
    policy = inputs(vm, "gcp:compute/regionAutoscaler:RegionAutoscaler")["autoscalingPolicy"]
    assert policy["minReplicas"] == 3 and policy["maxReplicas"] == 10
    assert policy["cpuUtilization"] == {"target": 0.75}
    # The single CPU target scales both ways; scale-in is slowed, not given its own threshold.
    assert policy["scaleInControl"] == {"maxScaledInReplicas": {"fixed": 1}, "timeWindowSec": 600}


def test_group_spreads_across_zones_and_heals(vm):
    group = inputs(vm, "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager")
    assert group["region"] == REGION
    assert group["distributionPolicyZones"] == [f"{REGION}-b", f"{REGION}-c", f"{REGION}-d"]
    assert group["distributionPolicyTargetShape"] == "EVEN"
    assert group["namedPorts"] == [{"name": "http", "port": 8080}]
    health = inputs(vm, "gcp:compute/healthCheck:HealthCheck")
    assert health["httpHealthCheck"] == {"port": 8080, "requestPath": "/v2/health/ready"}
    assert group["autoHealingPolicies"]["healthCheck"].endswith("/healthChecks/digits-prod-health")
    assert "targetSize" not in group  # the autoscaler owns the size


def test_instance_template_is_private_shielded_and_runs_the_image(vm):
    t = inputs(vm, "gcp:compute/instanceTemplate:InstanceTemplate")
    assert t["machineType"] == "e2-medium"
    assert t["networkInterfaces"] == [{"subnetwork": f"projects/mlinfra-mock-project/regions/{REGION}/subnetworks/"
                                                     "digits-prod-serve-subnet"}]  # no accessConfigs: no public IP
    assert t["shieldedInstanceConfig"] == {"enableSecureBoot": True, "enableVtpm": True,
                                           "enableIntegrityMonitoring": True}
    (disk,) = t["disks"]
    assert disk["sourceImage"] == "projects/cos-cloud/global/images/family/cos-stable" and disk["boot"] is True
    assert "diskEncryptionKey" not in disk  # Google-managed encryption at rest
    assert t["metadata"]["enable-oslogin"] == "TRUE" and t["metadata"]["block-project-ssh-keys"] == "TRUE"
    script = t["metadata"]["startup-script"]
    assert "-p 8080:8080" in script and script.rstrip().endswith(IMAGE)
    assert f"configure-docker --registries={REGION}-docker.pkg.dev" in script
    assert t["serviceAccount"]["email"] == "digits-prod-serve@mlinfra-mock-project.iam.gserviceaccount.com"
    assert t["labels"]["environment"] == "prod"


def test_firewalls_never_open_ssh_or_the_app_to_the_internet(vm):
    rules = {r.name: r.inputs for r in vm.of_type(FIREWALL)}
    assert set(rules) == {"digits-prod-allow-iap-ssh", "digits-prod-allow-lb"}
    for rule in rules.values():
        assert not OPEN & set(rule.get("sourceRanges", []))
    assert rules["digits-prod-allow-iap-ssh"]["sourceRanges"] == ["35.235.240.0/20"]
    assert rules["digits-prod-allow-iap-ssh"]["allows"] == [{"protocol": "tcp", "ports": ["22"]}]
    lb = rules["digits-prod-allow-lb"]
    assert lb["sourceRanges"] == ["35.191.0.0/16", "130.211.0.0/22"]
    assert lb["allows"] == [{"protocol": "tcp", "ports": ["8080"]}]
    assert lb["targetServiceAccounts"] == ["digits-prod-serve@mlinfra-mock-project.iam.gserviceaccount.com"]


def test_nat_and_private_google_access(vm):
    subnet = inputs(vm, "gcp:compute/subnetwork:Subnetwork")
    assert subnet["privateIpGoogleAccess"] is True
    nat = inputs(vm, "gcp:compute/routerNat:RouterNat")
    assert nat["sourceSubnetworkIpRangesToNat"] == "ALL_SUBNETWORKS_ALL_IP_RANGES"


def test_load_balancer_chain_and_endpoint(vm):
    backend = inputs(vm, "gcp:compute/backendService:BackendService")
    assert backend["loadBalancingScheme"] == "EXTERNAL_MANAGED" and backend["portName"] == "http"
    assert backend["backends"][0]["group"].endswith(f"/regions/{REGION}/instanceGroups/digits-prod-serve-group")
    assert backend["healthChecks"].endswith("/healthChecks/digits-prod-health")
    rule = inputs(vm, "gcp:compute/globalForwardingRule:GlobalForwardingRule")
    assert rule["portRange"] == "80" and rule["target"].endswith("/targetHttpProxies/digits-prod-http-proxy")
    assert names(vm, "gcp:compute/targetHttpsProxy:TargetHttpsProxy") == set()
    assert re.fullmatch(r"http://34\.\d+\.\d+\.\d+", vm.outputs["endpoint"])


def test_vm_identity_adds_only_log_and_metric_writers(vm):
    roles = sorted(r.inputs["role"] for r in vm.of_type("gcp:projects/iAMMember:IAMMember"))
    assert roles == ["roles/logging.logWriter", "roles/monitoring.metricWriter"]
    serving_grants = [g.inputs["role"] for g in vm.of_type("gcp:storage/bucketIAMMember:BucketIAMMember")
                      if g.inputs["member"].startswith("serviceAccount:digits-prod-serve@")]
    assert serving_grants == ["roles/storage.objectViewer"]
    assert vm.of_type(RUN) == []


def test_vm_with_domain_and_own_certificate():
    cert = "projects/acme/global/sslCertificates/api-example-com"
    plan = plan_gcp({**VM, "serving": {**VM["serving"], "domain": "api.example.com", "certificate": cert}})
    assert plan.of_type("gcp:compute/managedSslCertificate:ManagedSslCertificate") == []
    assert inputs(plan, "gcp:compute/targetHttpsProxy:TargetHttpsProxy")["sslCertificates"] == [cert]
    assert plan.outputs["endpoint"] == "https://api.example.com"


def test_startup_script_quotes_environment_values():
    import shlex

    from components.providers.gcp.serving_vm import startup_script

    script = startup_script("img:1", 9000, {"A": "x  y", "B": "it's; rm -rf /", "PORT": "9000"}, "h")
    (line,) = [ln for ln in script.splitlines() if ln.startswith("docker run")]
    argv = shlex.split(line)
    assert argv[-1] == "img:1"
    assert ["-p", "9000:9000"] == argv[argv.index("-p"):argv.index("-p") + 2]
    envs = [argv[i + 1] for i, a in enumerate(argv) if a == "-e"]
    assert envs == ["A=x  y", "B=it's; rm -rf /", "PORT=9000"]


def test_vms_wait_for_their_grants_and_retry_the_first_pull(vm):
    # IAM grants take minutes to apply (https://cloud.google.com/iam/docs/access-change-propagation):
    # the group is created after its account's grants, and each VM retries the pull meanwhile.
    group = one(vm, "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager")
    grants = {r.urn: r.inputs["role"] for r in vm.resources
              if r.type in ("gcp:storage/bucketIAMMember:BucketIAMMember",
                            "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember",
                            "gcp:projects/iAMMember:IAMMember")
              and r.inputs["member"].startswith("serviceAccount:digits-prod-serve@")}
    assert set(grants.values()) >= {"roles/artifactregistry.reader", "roles/storage.objectViewer"}
    assert set(grants) <= set(group.dependsOn)
    script = inputs(vm, "gcp:compute/instanceTemplate:InstanceTemplate")["metadata"]["startup-script"]
    assert re.search(r"for attempt in \$\(seq 1 \d+\); do docker pull \S+ && break;", script)


def test_vm_container_gets_the_model_and_the_concurrency_limit(vm):
    import shlex

    script = inputs(vm, "gcp:compute/instanceTemplate:InstanceTemplate")["metadata"]["startup-script"]
    (line,) = [ln for ln in script.splitlines() if ln.startswith("docker run")]
    argv = shlex.split(line)
    envs = dict(argv[i + 1].split("=", 1) for i, a in enumerate(argv) if a == "-e")
    assert envs["MODEL_URI"] == f"{vm.outputs['bucket_url']}/models/digits/current/"
    assert envs["PORT"] == "8080" and envs["MAX_CONCURRENCY"] == "80"


@pytest.mark.parametrize("rate, expected", [(0.1, {"enable": True, "sampleRate": 0.1}), (0, {"enable": False})])
def test_lb_request_logs_follow_the_sample_rate(rate, expected):
    # logConfig.sampleRate: the fraction of requests logged; Google's default 1.0 logs every request
    # (https://cloud.google.com/load-balancing/docs/https/https-logging-monitoring#logging).
    plan = plan_gcp({**VM, "serving": {**VM["serving"], "access_log_sample_rate": rate}}, env="prod")
    assert inputs(plan, "gcp:compute/backendService:BackendService")["logConfig"] == expected


def test_builtin_prod_samples_lb_logs():
    from stacks.offline import plan_environment
    from tests.helpers import PROJECT_DIR

    prod = plan_environment(PROJECT_DIR, "prod", "gcp")
    rate = inputs(prod, "gcp:compute/backendService:BackendService")["logConfig"]["sampleRate"]
    assert 0 < rate < 1  # not every request: see loadbalancer.log_config and Pulumi.prod.yaml
