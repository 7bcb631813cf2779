"""The X-Ray console in the browser: a page served from 127.0.0.1 and a read-only proxy that
passes its X-Ray and CloudWatch Logs calls to the local stack or, with --aws, to AWS.

    python -m console.web [--aws] [--port N] [--region R] [--no-open]
"""
