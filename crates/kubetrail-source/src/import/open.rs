//! Opening an input: counting the bytes read from it (for progress), gunzipping it when it
//! starts with the gzip magic, and telling JSON from YAML by the first byte of content.

use std::io::{self, BufRead, BufReader, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use flate2::bufread::MultiGzDecoder;

const BUFFER: usize = 128 << 10;
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const BOM: &[u8] = "\u{feff}".as_bytes();

pub(crate) struct Opened {
    pub(crate) input: Box<dyn BufRead + Send>,
    pub(crate) gzip: bool,
    pub(crate) progress: Arc<AtomicU64>,
}

/// Wraps `reader` so that it counts what is read from it and decompresses gzip (several
/// concatenated members too, as `cat a.gz b.gz` makes).
pub(crate) fn open<R: Read + Send + 'static>(reader: R) -> io::Result<Opened> {
    let progress = Arc::new(AtomicU64::new(0));
    let mut counting = Counting {
        inner: reader,
        count: Arc::clone(&progress),
    };
    let mut head = [0u8; 2];
    let len = read_up_to(&mut counting, &mut head)?;
    let gzip = head[..len] == GZIP_MAGIC;
    let whole = Head {
        head,
        len,
        pos: 0,
        inner: counting,
    };
    let input: Box<dyn BufRead + Send> = if gzip {
        let compressed = BufReader::with_capacity(BUFFER, whole);
        Box::new(BufReader::with_capacity(
            BUFFER,
            MultiGzDecoder::new(compressed),
        ))
    } else {
        Box::new(BufReader::with_capacity(BUFFER, whole))
    };
    Ok(Opened {
        input,
        gzip,
        progress,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Syntax {
    Json,
    Yaml,
}

/// Looks at the first byte of content (after a byte order mark and blank space): `{` or `[`
/// is JSON, anything else YAML. Consumes the mark, and the blank space only when it fills the
/// whole buffer; returns the line the reader is then at.
pub(crate) fn sniff(input: &mut dyn BufRead) -> io::Result<(Syntax, u64)> {
    let mut line = 1;
    if input.fill_buf()?.starts_with(BOM) {
        input.consume(BOM.len());
    }
    loop {
        let buf = input.fill_buf()?;
        if buf.is_empty() {
            return Ok((Syntax::Json, line));
        }
        match buf.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{' | b'[') => return Ok((Syntax::Json, line)),
            Some(_) => return Ok((Syntax::Yaml, line)),
            None => {
                let n = buf.len();
                line += buf.iter().filter(|&&b| b == b'\n').count() as u64;
                input.consume(n);
            }
        }
    }
}

fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match reader.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The bytes read to look for the gzip magic, then the rest. Unlike `Cursor::chain`, the first
/// read is not cut short after the head, so the first buffer holds a byte order mark whole.
struct Head<R> {
    head: [u8; 2],
    len: usize,
    pos: usize,
    inner: R,
}

impl<R: Read> Read for Head<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.len {
            return self.inner.read(buf);
        }
        let n = buf.len().min(self.len - self.pos);
        buf[..n].copy_from_slice(&self.head[self.pos..self.pos + n]);
        self.pos += n;
        match self.inner.read(&mut buf[n..]) {
            Ok(more) => Ok(n + more),
            // Hand over the head now; the error comes again on the next read.
            Err(_) => Ok(n),
        }
    }
}

/// Counts the bytes read through it into a shared counter, for a progress bar.
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}
