"""Resource types, and the names a deployment would give: CloudFormation's physical names and
API Gateway's REST API ids, made stable so that they survive restarts of the local stack."""

import hashlib

FUNCTION = "AWS::Serverless::Function"
SIMPLE_TABLE = "AWS::Serverless::SimpleTable"
DYNAMODB_TABLE = "AWS::DynamoDB::Table"
LOG_GROUP = "AWS::Logs::LogGroup"
# A layer sam build builds (ContentUri), and the CloudFormation resource SAM turns it into (Content).
SERVERLESS_LAYER = "AWS::Serverless::LayerVersion"
LAMBDA_LAYER = "AWS::Lambda::LayerVersion"
LAYER_TYPES = (SERVERLESS_LAYER, LAMBDA_LAYER)
# The REST API that SAM creates for Api events without a RestApiId, and its stage.
IMPLICIT_API = "ServerlessRestApi"
IMPLICIT_STAGE = "Prod"

ALPHABET_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
ALPHABET_LOWER = "abcdefghijklmnopqrstuvwxyz0123456789"


def stable_id(seed: str, length: int, alphabet: str) -> str:
    """The same id for the same seed on every run: names survive restarts of the stack."""
    number = int.from_bytes(hashlib.sha256(seed.encode()).digest(), "big")
    chars = []
    for _ in range(length):
        number, index = divmod(number, len(alphabet))
        chars.append(alphabet[index])
    return "".join(chars)


def physical_name(stack_name: str, logical_id: str) -> str:
    """CloudFormation's generated name: `<stack>-<LogicalId>-<12 upper-case alphanumerics>`."""
    return f"{stack_name}-{logical_id}-{stable_id(f'{stack_name}/{logical_id}', 12, ALPHABET_UPPER)}"


def api_id_for(stack_name: str) -> str:
    """A REST API id looks like `a1b2c3d4e5`: 10 lower-case alphanumerics."""
    return stable_id(f"{stack_name}/{IMPLICIT_API}", 10, ALPHABET_LOWER)
