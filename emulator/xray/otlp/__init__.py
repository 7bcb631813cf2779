"""OpenTelemetry (OTLP) intake for the local X-Ray, as AWS takes it.

Two doors lead in: the daemon's UDP port takes the datagrams ADOT's X-Ray UDP span exporter
sends in Lambda (datagram.py), and the API's TCP port takes OTLP/HTTP `POST /v1/traces`
(http_endpoint.py). Both decode an ExportTraceServiceRequest with opentelemetry-proto's classes
(decode.py), turn each span into a segment document by AWS's OpenTelemetry-to-X-Ray mapping
(spans_to_segments.py) and hand the documents to the same parsing and store path as the X-Ray
SDK's segments (intake.py), so the map, the traces and the filters cannot tell them apart.
"""
