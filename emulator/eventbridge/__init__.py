"""EventBridge's schedules, as the local stack runs them: the schedule expressions of rules
(`Schedule` events) and of EventBridge Scheduler (`ScheduleV2` events), when each fires next, and
the event a target is sent. The scheduler thread that fires them is
emulator/lambda_/event_sources/schedules.py."""
