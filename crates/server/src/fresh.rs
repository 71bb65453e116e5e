//! A value read from the database at most once at a time: a caller gets a copy read after
//! it asked, and callers that ask while a read is running share the next one. So a page
//! anyone can load (the status page, a sign-in screen) is always current, and a flood of
//! requests costs one read at a time, not one each.

use std::future::Future;
use std::sync::RwLock;
use std::time::Instant;

pub struct Fresh<T> {
    last: RwLock<Option<(Instant, T)>>,
    reading: tokio::sync::Mutex<()>,
}

impl<T> Default for Fresh<T> {
    fn default() -> Self {
        Self {
            last: RwLock::new(None),
            reading: tokio::sync::Mutex::new(()),
        }
    }
}

impl<T: Clone> Fresh<T> {
    /// The last value read, if any (however old).
    pub fn last(&self) -> Option<T> {
        self.last
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|(_, v)| v.clone())
    }

    /// A value read after this call began: the one a concurrent caller's read produced, or
    /// one read now by `load`.
    pub async fn get<E, F, Fut>(&self, load: F) -> Result<T, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let asked = Instant::now();
        let _turn = self.reading.lock().await;
        if let Some((taken, value)) = &*self.last.read().unwrap_or_else(|p| p.into_inner()) {
            if *taken >= asked {
                return Ok(value.clone());
            }
        }
        let taken = Instant::now();
        let value = load().await?;
        *self.last.write().unwrap_or_else(|p| p.into_inner()) = Some((taken, value.clone()));
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[tokio::test]
    async fn callers_waiting_on_a_read_share_the_next_one_and_later_callers_read_again() {
        let fresh = Arc::new(Fresh::<usize>::default());
        let reads = Arc::new(AtomicUsize::new(0));
        // Reads wait at this gate until every caller has asked.
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        let load = |reads: Arc<AtomicUsize>, gate: Arc<tokio::sync::Semaphore>| async move {
            gate.acquire().await.unwrap().forget();
            Ok::<_, ()>(reads.fetch_add(1, Ordering::SeqCst) + 1)
        };
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let (fresh, reads, gate) = (fresh.clone(), reads.clone(), gate.clone());
            tasks.push(tokio::spawn(async move {
                fresh.get(|| load(reads, gate)).await
            }));
        }
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        gate.add_permits(1000);
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        // The first read, then at most one more for everyone who queued behind it.
        assert!(reads.load(Ordering::SeqCst) <= 2, "{reads:?}");
        let again = fresh
            .get(|| load(reads.clone(), gate.clone()))
            .await
            .unwrap();
        assert_eq!(
            again,
            reads.load(Ordering::SeqCst),
            "a later caller reads anew"
        );
        assert_eq!(fresh.last(), Some(again));
    }
}
