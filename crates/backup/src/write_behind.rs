//! A file writer whose `write(2)`s run on a thread of their own, so that producing the bytes
//! (decrypting and decompressing a snapshot) and copying them into the kernel (a gigabyte
//! for a large tenant, about a quarter of a restore's CPU time when profiled) go on side by
//! side on two cores instead of taking turns on one.

use std::fs::File;
use std::io::{self, Write};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::thread::JoinHandle;

/// The size of the pieces handed to the writing thread.
const PIECE: usize = 1 << 20;
/// Pieces that may wait for the writing thread: bounds the memory a slow disk can take.
const QUEUED: usize = 8;

pub(crate) struct WriteBehind {
    piece: Vec<u8>,
    to_writer: Option<SyncSender<Vec<u8>>>,
    writer: Option<JoinHandle<io::Result<File>>>,
}

impl WriteBehind {
    pub(crate) fn new(mut file: File) -> Self {
        let (to_writer, pieces) = sync_channel::<Vec<u8>>(QUEUED);
        let writer = std::thread::Builder::new()
            .name("skjold-write-behind".into())
            .spawn(move || {
                for piece in pieces {
                    file.write_all(&piece)?;
                }
                Ok(file)
            });
        match writer {
            Ok(writer) => Self {
                piece: Vec::with_capacity(PIECE),
                to_writer: Some(to_writer),
                writer: Some(writer),
            },
            // No thread to be had: write on the caller's thread instead (see `hand_over`).
            Err(_) => Self {
                piece: Vec::with_capacity(PIECE),
                to_writer: None,
                writer: None,
            },
        }
    }

    /// Hands the current piece to the writing thread; if that thread has stopped, its error.
    fn hand_over(&mut self) -> io::Result<()> {
        let piece = std::mem::replace(&mut self.piece, Vec::with_capacity(PIECE));
        let Some(to_writer) = &self.to_writer else {
            return Err(io::Error::other("the file writer thread could not start"));
        };
        if to_writer.send(piece).is_err() {
            // The thread stopped on a write error: report that error.
            return Err(self
                .join()
                .err()
                .unwrap_or_else(|| io::Error::other("the file writer thread stopped early")));
        }
        Ok(())
    }

    fn join(&mut self) -> io::Result<File> {
        self.to_writer = None;
        match self.writer.take() {
            Some(writer) => writer
                .join()
                .map_err(|_| io::Error::other("the file writer thread panicked"))?,
            None => Err(io::Error::other(
                "the file writer thread has already stopped",
            )),
        }
    }

    /// Writes what is left and returns the file once every byte is written (not synced).
    pub(crate) fn finish(mut self) -> io::Result<File> {
        if !self.piece.is_empty() {
            self.hand_over()?;
        }
        self.join()
    }
}

impl Write for WriteBehind {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = PIECE - self.piece.len();
        let n = buf.len().min(room);
        self.piece.extend_from_slice(&buf[..n]);
        if self.piece.len() == PIECE {
            self.hand_over()?;
        }
        Ok(n)
    }

    /// Only hands the buffered bytes over; [`WriteBehind::finish`] waits for them.
    fn flush(&mut self) -> io::Result<()> {
        if !self.piece.is_empty() {
            self.hand_over()?;
        }
        Ok(())
    }
}

impl Drop for WriteBehind {
    fn drop(&mut self) {
        // Dropped without `finish` (an error upstream): let the thread end.
        self.to_writer = None;
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn writes_every_byte_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        let mut w = WriteBehind::new(File::create(&path).unwrap());
        let mut expected = Vec::new();
        // Odd sizes across piece boundaries.
        for i in 0..3000u32 {
            let chunk: Vec<u8> = (0..(i % 4099)).map(|j| (i ^ j) as u8).collect();
            w.write_all(&chunk).unwrap();
            expected.extend_from_slice(&chunk);
        }
        w.finish().unwrap();
        let mut got = Vec::new();
        File::open(&path).unwrap().read_to_end(&mut got).unwrap();
        assert_eq!(got.len(), expected.len());
        assert!(got == expected);
    }

    #[test]
    fn a_write_error_on_the_thread_reaches_the_caller() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        File::create(&path).unwrap();
        // Opened read-only: every write(2) fails.
        let mut w = WriteBehind::new(File::open(&path).unwrap());
        let piece = vec![7u8; PIECE];
        let mut failed = None;
        for _ in 0..QUEUED + 4 {
            if let Err(e) = w.write_all(&piece) {
                failed = Some(e);
                break;
            }
        }
        let error = match failed {
            Some(e) => e,
            None => w.finish().unwrap_err(),
        };
        assert_ne!(error.kind(), io::ErrorKind::Other, "{error}");
    }
}
