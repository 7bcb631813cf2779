"""(being written: see the issue 11 item 4 work in progress)"""

from emulator.lambda_.event_sources.context import EventSourceContext, Stopper


def start_stream_pollers(context: EventSourceContext) -> Stopper | None:
    if not context.app.stream_events:
        return None
    raise NotImplementedError("stream_events are not run locally yet")
