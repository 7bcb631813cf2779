"""The local stack: runs the `sam build` output of template.yaml with no Docker and no AWS account.

One package per AWS service, named as AWS names it; emulator/stack.py wires them together.
A request's path, hop by hop, as module:function (read it top to bottom):

    curl http://127.0.0.1:3000/ddb
      apigateway/gateway.py:_Handler._serve             HTTP in (the body read by http_body.py)
      apigateway/gateway.py:Gateway.handle              API Gateway's steps, in order:
      apigateway/gateway.py:Gateway.route                 which API (by stage) and route
      apigateway/routes.py:RouteTable.match               resource and method -> function
      apigateway/cors.py                                  a preflight answered by the API itself
      apigateway/media_types.py                           which bodies go base64 (binaryMediaTypes)
      apigateway/proxy_integration.py:build_event         the REST API proxy event (payload 1.0)
      apigateway/http_api_integration.py                  an HTTP API's payload 2.0 event
      apigateway/authorizer.py:authorize                  a Lambda authorizer, its policy decides
      lambda_/service.py:LambdaService.invoke           Lambda's Invoke: timeout, START/END/REPORT
      lambda_/worker_pool.py:WorkerPool.acquire         a warm execution environment, or a new one
      lambda_/execution_environment.py:Worker           the process running awslambdaric
      lambda_/environment_variables.py                  the variables Lambda sets (_X_AMZN_TRACE_ID...)
      lambda_/runtime_api.py:RuntimeApiServer           GET /invocation/next hands awslambdaric the event
        -> your handler (hello_world/app.py, sam_ddb/app.py) -> boto3 -> AWS_ENDPOINT_URL
      dynamodb/browser_guard.py:BrowserGuard            loopback Host only, no web page (Origin)
      dynamodb/durable_app.py:DurableDynamoDB           moto applies PutItem, the journal gets it,
      dynamodb/journal.py:Journal.wait_durable            fsynced before the answer leaves
      dynamodb/checkpoint.py                            moto's tables pickled every 1,000 writes
      lambda_/runtime_api.py:RuntimeApiServer           POST /invocation/{id}/response
      apigateway/proxy_integration.py:parse_result      the function's answer -> the HTTP response
                                                        (http_api_integration.py:parse_result_v2)

    and its log lines:
      lambda_/service.py:LambdaService._write           START/END/REPORT, to the terminal and the
      lambda_/execution_environment.py:OutputStream       worker's log stream; the function's output
      logs/shipper.py:LogShipper                        buffered, sent in batches from a thread
        -> PutLogEvents to moto (the same durable_app.py and journal as DynamoDB)
      logs/invocation_lines.py:invocation_events        one invocation's lines by its request id

    and the trace of it:
      tracing/trace_header.py                           X-Amzn-Trace-Id: Root, Parent, Sampled
      tracing/sampling.py                               traced or not: every request, or AWS's Default rule
      apigateway/stage_segment.py                       sam-app/Prod (AWS::ApiGateway::Stage)
      lambda_/segments.py                               AWS::Lambda and AWS::Lambda::Function
      tracing/segment_sender.py:SegmentSender.send      UDP, the daemon's format (the SDK sends the same)
      xray/daemon.py:Daemon                             UDP in -> a write queue
      xray/store.py:TraceStore                          SQLite; graph edges resolved at insert
      xray/api.py:XRayApiServer                         GetServiceGraph, GetTraceSummaries, BatchGetTraces
      xray/graph.py, xray/traces.py, xray/filters.py    the service map, trace summaries, filter expressions
      xray/groups.py, xray/time_series.py               groups (their filters), statistics per period

What runs it: app/template.py:load_app reads the built template into an AppSpec (app/model.py),
with app/intrinsics.py for !Ref, !GetAtt, !Sub...; cli.py is `python -m emulator` (arguments,
banner, signals); child_process.py starts, watches and restarts moto and X-Ray; lifeline.py
ends every child with the stack; dir_lock.py keeps one stack per data directory; console/
(beside this package) holds the clients of any X-Ray API.
"""
