"""What invokes a function other than an API or a direct Invoke: event source mappings (Lambda
polling an SQS queue or a DynamoDB stream) and schedules (EventBridge rules and Scheduler).

Each kind has one module with a `start_*` function that the stack calls once Lambda is up;
it returns what stops it (or None when the template has none of that kind).
"""
