//! [`BufferPool`]: the byte buffers of written batches, filled again by the batches read next.

use std::collections::TryReserveError;
use std::sync::{Arc, Mutex};

use crate::allocator;

/// Buffers the run's writers are done with, for any of its readers to fill again. A buffer that
/// was filled before has its pages mapped; a fresh one page-faults, and the kernel zeroes a page,
/// for every 4 KiB it fills (a third of the client's time, measured, when every batch put its
/// documents in a new buffer). Only the batches in flight at once need fresh memory. It keeps at
/// most `limit` bytes of capacity; what does not fit is freed.
#[derive(Debug, Clone)]
pub struct BufferPool {
    spare: Arc<Mutex<Spare>>,
}

#[derive(Debug)]
struct Spare {
    buffers: Vec<Vec<u8>>,
    /// Capacity of `buffers`.
    bytes: usize,
    limit: usize,
}

impl BufferPool {
    /// A pool that keeps at most `limit` bytes of idle buffers.
    pub fn new(limit: usize) -> Self {
        BufferPool {
            spare: Arc::new(Mutex::new(Spare {
                buffers: Vec::new(),
                bytes: 0,
                limit,
            })),
        }
    }

    /// An empty buffer for about `capacity` bytes: the smallest idle one that holds them, else
    /// the largest idle one grown to them, else a new one. The size comes from the data (a
    /// batch's last payload), so a failed allocation is an error, not the end of the process.
    pub fn take(&self, capacity: usize) -> Result<Vec<u8>, TryReserveError> {
        let Ok(mut spare) = self.spare.lock() else {
            return fresh(capacity);
        };
        let by_capacity = |(_, b): &(usize, &Vec<u8>)| b.capacity();
        let fitting = spare
            .buffers
            .iter()
            .enumerate()
            .filter(|(_, b)| b.capacity() >= capacity)
            .min_by_key(by_capacity);
        let pick = fitting
            .or_else(|| spare.buffers.iter().enumerate().max_by_key(by_capacity))
            .map(|(i, _)| i);
        let Some(i) = pick else {
            return fresh(capacity);
        };
        let mut buffer = spare.buffers.swap_remove(i);
        spare.bytes -= buffer.capacity();
        drop(spare);
        // On failure the buffer is freed: memory is short.
        allocator::try_reserve(&mut buffer, capacity)?;
        Ok(buffer)
    }

    /// Takes back a buffer whose contents are no longer needed.
    pub fn give(&self, mut buffer: Vec<u8>) {
        buffer.clear();
        let Ok(mut spare) = self.spare.lock() else {
            return;
        };
        if buffer.capacity() == 0 || spare.bytes + buffer.capacity() > spare.limit {
            return;
        }
        spare.bytes += buffer.capacity();
        spare.buffers.push(buffer);
    }

    /// Capacity of the idle buffers.
    pub fn idle_bytes(&self) -> usize {
        self.spare.lock().map_or(0, |s| s.bytes)
    }
}

/// A new buffer of `capacity` bytes, if they can be allocated.
pub fn fresh(capacity: usize) -> Result<Vec<u8>, TryReserveError> {
    let mut buffer = Vec::new();
    allocator::try_reserve(&mut buffer, capacity)?;
    Ok(buffer)
}

#[cfg(test)]
mod tests {
    use super::BufferPool;

    #[test]
    fn buffers_come_back_empty_the_best_fitting_first_within_the_limit() {
        let pool = BufferPool::new(10_000);
        let mut small = pool.take(100).expect("100 bytes");
        small.extend_from_slice(b"old rows");
        let (small_at, small_capacity) = (small.as_ptr(), small.capacity());
        let big = pool.take(5_000).expect("5 KB");
        let (big_at, big_capacity) = (big.as_ptr(), big.capacity());
        pool.give(small);
        pool.give(big);
        assert_eq!(pool.idle_bytes(), small_capacity + big_capacity);

        let again = pool.take(50).expect("50 bytes");
        assert_eq!(
            (again.as_ptr(), again.len()),
            (small_at, 0),
            "the smallest that fits"
        );
        let large = pool.take(4_000).expect("4 KB");
        assert_eq!(large.as_ptr(), big_at);
        assert_eq!(pool.idle_bytes(), 0);

        // Over the limit: freed instead of kept.
        pool.give(large);
        pool.give(vec![0; 9_000]);
        assert_eq!(pool.idle_bytes(), big_capacity);
        // Nothing fits: the largest, grown.
        let grown = pool.take(20_000).expect("20 KB");
        assert!(grown.capacity() >= 20_000 && grown.is_empty());
        assert_eq!(pool.idle_bytes(), 0);

        // More than the address space: an error, and the idle buffer it would have grown is
        // freed.
        pool.give(grown);
        assert!(pool.take(usize::MAX / 4).is_err());
        assert_eq!(pool.idle_bytes(), 0);
    }
}
