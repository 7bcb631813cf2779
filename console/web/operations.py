"""Which API calls the page may make: read-only X-Ray and CloudWatch Logs operations only.

The page only reads. Keeping the proxy to reads means that whatever runs in the page (a bug,
a library, a hostile trace annotation rendered wrongly) cannot change anything, locally or in
the user's AWS account through their credentials.
"""

from botocore.loaders import create_loader
from botocore.model import ServiceModel

# Names as botocore's xray service model spells them; their REST paths come from that model,
# so a path and its operation cannot drift apart.
READ_ONLY_XRAY_OPERATIONS = (
    "BatchGetTraces",
    "GetGroup",
    "GetGroups",
    "GetInsightSummaries",
    "GetServiceGraph",
    "GetTimeSeriesServiceStatistics",
    "GetTraceGraph",
    "GetTraceSummaries",
)

# CloudWatch Logs speaks JSON 1.1: the operation is in X-Amz-Target as "<prefix>.<Operation>".
LOGS_TARGET_PREFIX = "Logs_20140328"
READ_ONLY_LOGS_OPERATIONS = frozenset(
    {"DescribeLogGroups", "DescribeLogStreams", "FilterLogEvents", "GetLogEvents"}
)


def _xray_paths() -> dict[str, str]:
    # The model file alone: a botocore session would read the user's AWS configuration, and
    # fail at import on an AWS_PROFILE that does not exist (the local X-Ray imports this).
    model = ServiceModel(create_loader().load_service_model("xray", "service-2"), service_name="xray")
    return {model.operation_model(name).http["requestUri"]: name for name in READ_ONLY_XRAY_OPERATIONS}


# REST path (as AWS serves it, e.g. "/TraceSummaries") -> operation name.
READ_ONLY_XRAY_PATHS: dict[str, str] = _xray_paths()


def xray_operation(path: str) -> str | None:
    """The read-only X-Ray operation served at `path`, or None if the page may not call it."""
    return READ_ONLY_XRAY_PATHS.get(path)


def logs_operation(target: str) -> str | None:
    """The read-only Logs operation an X-Amz-Target names, or None if the page may not call it."""
    prefix, dot, operation = target.partition(".")
    if prefix != LOGS_TARGET_PREFIX or not dot or operation not in READ_ONLY_LOGS_OPERATIONS:
        return None
    return operation
