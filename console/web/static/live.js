// Polling that respects the user's machine: at most once per interval, one call at a time,
// and only while the page is visible (a background tab costs nothing).

export function poll(task, intervalMs = 1000) {
  let timer = null;
  let running = false;
  let stopped = false;

  const visible = () => document.visibilityState === 'visible';

  function schedule() {
    if (stopped || timer !== null || running || !visible()) return;
    timer = setTimeout(tick, intervalMs);
  }

  async function tick() {
    timer = null;
    if (stopped || !visible()) return;
    running = true;
    try {
      await task();
    } catch {
      // The task shows its own errors; a failed poll must not stop the next one.
    } finally {
      running = false;
    }
    schedule();
  }

  function onVisibility() {
    if (visible()) {
      schedule();
    } else if (timer !== null) {
      clearTimeout(timer);
      timer = null;
    }
  }

  document.addEventListener('visibilitychange', onVisibility);
  schedule();
  return function stop() {
    stopped = true;
    if (timer !== null) clearTimeout(timer);
    document.removeEventListener('visibilitychange', onVisibility);
  };
}
