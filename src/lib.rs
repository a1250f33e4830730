//! corio: a hand-built stackful coroutine runtime (work in progress).
