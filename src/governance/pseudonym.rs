//! Pseudonymous conversation ids for telemetry (crypto-shredding).
//!
//! Telemetry lives on a delete-policy topic, which tombstones do not reach. Its records carry
//! no conversation id but a pseudonym: HMAC-SHA-256 of the conversation id under a random
//! per-conversation key, cut to 128 bits (32 hex characters). The key is stored only in the
//! conversation's index entry; an erasure tombstones that entry, compaction removes it, and
//! from then on nothing maps the pseudonym back to the conversation (the key cannot be
//! recomputed: it is random, not derived).

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Bytes of a telemetry key.
pub const KEY_BYTES: usize = 32;

/// Characters of a pseudonym (hex of the first 16 bytes of the HMAC).
pub const PSEUDONYM_CHARS: usize = 32;

/// A fresh random key; `None` only when the operating system has no randomness to give.
pub fn new_key() -> Option<[u8; KEY_BYTES]> {
    let mut key = [0u8; KEY_BYTES];
    getrandom::fill(&mut key).ok()?;
    Some(key)
}

/// The pseudonym of `conversation_id` under `key`: lower-case hex, [`PSEUDONYM_CHARS`] long.
pub fn pseudonym(key: &[u8], conversation_id: &str) -> String {
    // HMAC accepts keys of any length: `new_from_slice` cannot fail for it.
    let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(conversation_id.as_bytes());
    let digest = mac.finalize().into_bytes();
    digest[..PSEUDONYM_CHARS / 2]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4231_case_2_prefix() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            pseudonym(b"Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c7"
        );
    }

    #[test]
    fn keys_are_random_and_pseudonyms_differ_by_key() {
        let a = new_key().unwrap();
        let b = new_key().unwrap();
        assert_ne!(a, b);
        assert_ne!(pseudonym(&a, "c1"), pseudonym(&b, "c1"));
        assert_eq!(pseudonym(&a, "c1"), pseudonym(&a, "c1"));
        assert_eq!(pseudonym(&a, "c1").len(), PSEUDONYM_CHARS);
    }
}
