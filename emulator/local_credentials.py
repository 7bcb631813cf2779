"""The credentials the local stack's clients sign with: moto takes any, and real-looking
ones keep SDKs and the AWS CLI from refusing to send."""

from typing import TypedDict

import boto3
import botocore.session


class Credentials(TypedDict):
    """boto3's credential keywords, typed so that **credentials matches a client's signature."""

    aws_access_key_id: str
    aws_secret_access_key: str


FAKE_CREDENTIALS: Credentials = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def local_session() -> boto3.session.Session:
    """A boto3 session for the local endpoints that ignores the user's AWS_PROFILE.

    The local stack never calls AWS, but botocore reads the profile named by AWS_PROFILE as
    soon as a client is made, and a profile that does not exist (a typo, another machine's
    name) would stop the stack with ProfileNotFound. A session variable with no environment
    variable behind it is botocore's own way to leave the profile unset.
    """
    core = botocore.session.Session(session_vars={"profile": (None, None, None, None)})
    return boto3.session.Session(botocore_session=core)
