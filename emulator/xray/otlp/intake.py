"""An ExportTraceServiceRequest → validated segment documents, ready for the trace store.

Each span is converted and then parsed by documents.parse_document exactly like a document the
X-Ray SDK sends, so OpenTelemetry data meets the same validation and the same facts as any
other. A span that cannot become a valid document is rejected alone, with the reason.
"""

import json
from dataclasses import dataclass, field

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from emulator.xray.documents import DocumentFacts, InvalidDocument, parse_document
from emulator.xray.otlp.ids import InvalidSpan
from emulator.xray.otlp.spans_to_segments import DEFAULT_OPTIONS, Options, span_document
from emulator.xray.otlp.values import attribute_map


@dataclass
class Converted:
    documents: list[DocumentFacts] = field(default_factory=list)
    # One line per rejected span: where it was and why.
    rejected: list[str] = field(default_factory=list)

    @property
    def span_count(self) -> int:
        return len(self.documents) + len(self.rejected)


def convert(request: ExportTraceServiceRequest, options: Options = DEFAULT_OPTIONS) -> Converted:
    converted = Converted()
    for resource_index, resource_spans in enumerate(request.resource_spans):
        resource = attribute_map(resource_spans.resource.attributes)
        for scope_index, scope_spans in enumerate(resource_spans.scope_spans):
            for span_index, span in enumerate(scope_spans.spans):
                where = f"resource_spans[{resource_index}].scope_spans[{scope_index}].spans[{span_index}]"
                try:
                    document = span_document(span, resource, options)
                    text = json.dumps(document, separators=(",", ":"), allow_nan=False)
                    converted.documents.append(parse_document(text))
                except (InvalidSpan, InvalidDocument, ValueError) as error:
                    converted.rejected.append(f"{where} ({span.name[:100]!r}): {error}")
    return converted
