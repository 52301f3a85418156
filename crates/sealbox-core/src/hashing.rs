//! Password hashing, bounded. Every Argon2id operation (a sign-in's verification, the same work
//! burnt for an unknown e-mail, hashing a new member's password) runs here, on a few dedicated
//! threads with a bounded queue in front of them. Each thread owns one `PasswordWorkArea`
//! (Argon2's 19 MiB, allocated once at start and reused), so memory for hashing is `threads` x
//! 19 MiB however many sign-ins arrive at once; an operation that finds the queue full is
//! refused at once with `auth.busy` instead of waiting.

use std::sync::{Arc, Mutex};

use sealbox_crypto::{PasswordWorkArea, SecretString};
use sealbox_types::codes;
use tokio::sync::{mpsc, oneshot};

use crate::error::{CoreError, CoreResult, ErrorClass};

/// How long a refused caller is told to wait before trying again.
const BUSY_RETRY_AFTER_SECONDS: u64 = 1;

type Job = Box<dyn FnOnce(&mut PasswordWorkArea) + Send>;

/// The bounded password-hashing service: `threads` operations at once, `queue` more waiting.
pub(crate) struct PasswordHashing {
    jobs: mpsc::Sender<Job>,
}

impl PasswordHashing {
    /// Starts `threads` (at least one) hashing threads, each with its work area; they stop when
    /// this is dropped.
    pub(crate) fn start(threads: usize, queue: usize) -> Result<Self, String> {
        let (jobs, waiting) = mpsc::channel::<Job>(queue.max(1));
        let waiting = Arc::new(Mutex::new(waiting));
        for n in 0..threads.max(1) {
            let waiting = waiting.clone();
            let mut area = PasswordWorkArea::new().map_err(|e| e.to_string())?;
            std::thread::Builder::new()
                .name(format!("sealbox-hash-{n}"))
                .spawn(move || {
                    loop {
                        // One thread waits on the queue at a time; the lock is released before
                        // the job runs, so the others can take the next one meanwhile.
                        let job = match waiting.lock() {
                            Ok(mut waiting) => waiting.blocking_recv(),
                            Err(_) => None,
                        };
                        match job {
                            Some(job) => job(&mut area),
                            None => return,
                        }
                    }
                })
                .map_err(|e| e.to_string())?;
        }
        Ok(Self { jobs })
    }

    /// Runs `work` on a hashing thread, or refuses at once when the queue is full.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut PasswordWorkArea) -> T + Send + 'static,
    ) -> CoreResult<T> {
        let (answer, answered) = oneshot::channel();
        let job: Job = Box::new(move |area| {
            // The caller may have gone (its request was cancelled): nobody to tell.
            let _ = answer.send(work(area));
        });
        self.jobs.try_send(job).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => busy(),
            mpsc::error::TrySendError::Closed(_) => CoreError::internal("the password-hashing threads have stopped"),
        })?;
        answered
            .await
            .map_err(|_| CoreError::internal("a password-hashing thread stopped during an operation"))
    }

    /// The PHC string of a new password.
    pub(crate) async fn hash(&self, password: &SecretString) -> CoreResult<String> {
        let password = password.clone();
        self.run(move |area| area.hash(&password))
            .await?
            .map_err(CoreError::internal)
    }

    /// Whether `password` matches the stored PHC string.
    pub(crate) async fn verify(&self, password: SecretString, hash: String) -> CoreResult<bool> {
        self.run(move |area| area.verify(&password, &hash)).await
    }

    /// The same work as a verification, for a sign-in whose e-mail or workspace does not exist,
    /// so that it takes as long as a wrong password.
    pub(crate) async fn burn(&self, password: SecretString) -> CoreResult<()> {
        self.run(move |area| area.burn(&password)).await
    }
}

fn busy() -> CoreError {
    CoreError::new(
        ErrorClass::Unavailable,
        codes::AUTH_BUSY,
        "the server is busy checking other passwords; try again in a moment",
    )
    .with_retry_after(BUSY_RETRY_AFTER_SECONDS)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[tokio::test]
    async fn beyond_the_running_and_the_queued_operations_callers_are_refused_at_once() {
        let hashing = Arc::new(PasswordHashing::start(1, 2).unwrap());
        let (release, released) = std::sync::mpsc::channel::<()>();
        let released = Arc::new(Mutex::new(released));
        let (started, mut running) = mpsc::channel::<()>(1);
        // One operation runs (held until released) ...
        let first = {
            let (hashing, released) = (hashing.clone(), released.clone());
            tokio::spawn(async move {
                hashing
                    .run(move |_| {
                        let _ = started.blocking_send(());
                        let _ = released.lock().unwrap().recv();
                    })
                    .await
            })
        };
        running.recv().await.unwrap();
        // ... two wait in the queue ...
        let queued: Vec<_> = (0..2)
            .map(|n| {
                let hashing = hashing.clone();
                tokio::spawn(async move { hashing.run(move |_| n).await })
            })
            .collect();
        while hashing.jobs.capacity() > 0 {
            tokio::task::yield_now().await;
        }
        // ... and the next is refused without waiting.
        let refused = hashing.run(|_| 99).await.unwrap_err();
        assert_eq!(
            (refused.code, refused.class),
            (codes::AUTH_BUSY, ErrorClass::Unavailable)
        );
        assert_eq!(refused.retry_after_seconds, Some(1));

        release.send(()).unwrap();
        first.await.unwrap().unwrap();
        let mut done = Vec::new();
        for q in queued {
            done.push(q.await.unwrap().unwrap());
        }
        assert_eq!(done, [0, 1]);
        assert_eq!(
            hashing.run(|_| 7).await.unwrap(),
            7,
            "room again once the queue drained"
        );
    }

    #[tokio::test]
    async fn hashes_verify_and_burns_run_on_the_threads() {
        let hashing = PasswordHashing::start(2, 4).unwrap();
        let password = SecretString::from("correct horse battery staple");
        let phc = hashing.hash(&password).await.unwrap();
        assert!(hashing.verify(password.clone(), phc.clone()).await.unwrap());
        assert!(!hashing.verify(SecretString::from("wrong"), phc).await.unwrap());
        hashing.burn(password).await.unwrap();
    }
}
