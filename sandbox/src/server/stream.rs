//! Streaming a request's answer: the engine's thread encodes result sets
//! row by row ([`Streamer`], a [`Sink`]) and hands whole packets' worth of
//! bytes to the connection's task through a bounded channel, so a result
//! of any size crosses the sandbox in bounded memory, and the connection
//! keeps watching for an attention while it sends.

use crate::engine::errors;
use crate::tds::packet::payload_size;
use crate::tds::response::{Encoder, Framing};
use crate::types::{Cell, Column, Item, Sink, SqlError};
use tokio::sync::mpsc;

/// Bytes encoded before they leave (rounded down to whole packets): large
/// enough that a send costs little per row, small enough to bound memory.
const FLUSH_AT: usize = 64 * 1024;

/// Encoded bytes waiting for the connection, in chunks of up to
/// [`FLUSH_AT`]: when they are not taken (a client that does not read),
/// the engine waits.
pub(super) const CHANNEL_CHUNKS: usize = 4;

/// The engine's end of a streamed answer.
pub(super) struct Streamer {
    encoder: Encoder<'static>,
    tx: mpsc::Sender<Vec<u8>>,
    payload: usize,
    /// The connection stopped taking bytes (the client left).
    gone: bool,
}

impl Streamer {
    /// A streamer for one request's answer, and the channel the connection
    /// takes its bytes from.
    pub(super) fn new(
        framing: Framing<'static>,
        packet_size: usize,
    ) -> (Streamer, mpsc::Receiver<Vec<u8>>) {
        let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
        let s = Streamer {
            encoder: Encoder::new(framing),
            tx,
            payload: payload_size(packet_size),
            gone: false,
        };
        (s, rx)
    }

    /// The encoder, with what it has not sent, to end the answer with.
    pub(super) fn into_encoder(self) -> Encoder<'static> {
        self.encoder
    }

    /// Hands the encoded whole packets to the connection once there are
    /// enough of them. An error once the connection is gone.
    fn flush(&mut self) -> Result<(), SqlError> {
        if self.gone {
            return Err(errors::cancelled());
        }
        if self.encoder.pending() < FLUSH_AT.max(self.payload) {
            return Ok(());
        }
        let n = self.encoder.pending() / self.payload * self.payload;
        let chunk = self.encoder.take(n);
        if self.tx.blocking_send(chunk).is_err() {
            self.gone = true;
            return Err(errors::cancelled());
        }
        Ok(())
    }
}

impl Sink for Streamer {
    fn items(&mut self, items: &mut Vec<Item>) {
        self.encoder.items(items);
    }

    fn begin_rows(&mut self, columns: &[Column]) {
        self.encoder.begin_rows(columns);
    }

    fn begin_row(&mut self) {
        self.encoder.begin_row();
    }

    fn cell(&mut self, cell: Cell<'_>) -> Result<(), SqlError> {
        self.encoder.cell(cell)
    }

    fn end_row(&mut self) -> Result<(), SqlError> {
        self.encoder.end_row()?;
        self.flush()
    }

    fn end_rows(&mut self, rows: u64) {
        self.encoder.end_rows(rows);
    }
}
