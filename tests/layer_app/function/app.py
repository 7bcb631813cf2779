"""Imports from the function's two layers and answers where each module came from."""

import json
import os
import sys

import greeting
import precedence


def handler(event, context):
    return {
        "statusCode": 200,
        "body": json.dumps(
            {
                "greeting": greeting.greet("layers"),
                "precedence": precedence.SOURCE,
                "sys_path": sys.path,
                "layer_arn": os.environ["SHARED_LAYER_ARN"],
                "opt_dir": os.environ["LOCAL_LAMBDA_OPT_DIR"],
                "getatt": {
                    name: os.environ[name]
                    for name in (
                        "QUEUE_URL",
                        "QUEUE_ARN",
                        "TOPIC_NAME",
                        "BUCKET_DOMAIN",
                        "INLINE_ROLE_ARN",
                        "INLINE_ARN",
                    )
                },
            }
        ),
    }
