"""The gateway's clock, one seam for tests and the benchmark: retries and the single flight's waits
call `clock.sleep` / `clock.monotonic`, so a test replaces them here once (never sleeps for real)."""

import time

sleep = time.sleep
monotonic = time.monotonic
