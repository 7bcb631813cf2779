"""The credentials the local stack's clients sign with: moto takes any, and real-looking
ones keep SDKs and the AWS CLI from refusing to send."""

FAKE_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
