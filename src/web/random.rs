//! Random bytes for `messageId`s, from `crypto.getRandomValues`, drawn in
//! blocks so `track()` does not cross into JavaScript for each id.

const POOL_BYTES: usize = 4096;

pub struct RandomPool {
    crypto: Option<web_sys::Crypto>,
    pool: Vec<u8>,
    used: usize,
}

impl Default for RandomPool {
    fn default() -> Self {
        Self::new()
    }
}

impl RandomPool {
    pub fn new() -> Self {
        let crypto = web_sys::window().and_then(|window| window.crypto().ok());
        RandomPool {
            crypto,
            pool: vec![0; POOL_BYTES],
            used: POOL_BYTES,
        }
    }

    fn refill(&mut self) {
        let filled = self.crypto.as_ref().is_some_and(|crypto| {
            crypto
                .get_random_values_with_u8_array(&mut self.pool)
                .is_ok()
        });
        if !filled {
            // No Web Crypto (very old browsers): ids must still be unique.
            for byte in self.pool.iter_mut() {
                *byte = (js_sys::Math::random() * 256.0) as u8;
            }
        }
        self.used = 0;
    }

    pub fn next_16(&mut self) -> [u8; 16] {
        if self.used + 16 > self.pool.len() {
            self.refill();
        }
        let mut out = [0u8; 16];
        out.copy_from_slice(&self.pool[self.used..self.used + 16]);
        self.used += 16;
        out
    }
}
