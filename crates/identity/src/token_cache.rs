//! Remembers recently verified tokens so that a client reusing one token does not pay for a
//! signature check (an RSA or ECDSA verification) on every call.

use std::{
    collections::HashMap,
    sync::{Mutex, PoisonError},
};

use crate::Identity;

/// A bounded map from token to identity. Entries are only trusted until the token's `exp` plus
/// leeway; `nbf` cannot become false again once it held.
pub(crate) struct TokenCache {
    entries: Mutex<HashMap<Box<str>, CachedIdentity>>,
    capacity: usize,
}

struct CachedIdentity {
    identity: Identity,
    valid_until: u64,
}

impl TokenCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    pub(crate) fn get(&self, token: &str, now: u64) -> Option<Identity> {
        if self.capacity == 0 {
            return None;
        }
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        match entries.get(token) {
            Some(cached) if now <= cached.valid_until => Some(cached.identity.clone()),
            Some(_) => {
                entries.remove(token);
                None
            }
            None => None,
        }
    }

    pub(crate) fn insert(&self, token: &str, identity: Identity, valid_until: u64, now: u64) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= self.capacity {
            entries.retain(|_, cached| now <= cached.valid_until);
            if entries.len() >= self.capacity {
                // Simpler than LRU bookkeeping; the cost is one re-verification per live token.
                entries.clear();
            }
        }
        entries.insert(
            token.into(),
            CachedIdentity {
                identity,
                valid_until,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_served_until_it_expires() {
        let cache = TokenCache::new(4);
        cache.insert("token", Identity::new("user-1"), 100, 50);

        assert_eq!(cache.get("token", 100), Some(Identity::new("user-1")));
        assert_eq!(cache.get("token", 101), None);
        assert_eq!(cache.get("token", 50), None, "expired entries are dropped");
    }

    #[test]
    fn the_cache_never_grows_past_its_capacity() {
        let cache = TokenCache::new(2);
        for index in 0..10 {
            cache.insert(&format!("token-{index}"), Identity::new("user"), 100, 0);
        }

        let size = cache
            .entries
            .lock()
            .map(|entries| entries.len())
            .unwrap_or(0);
        assert!(size <= 2, "{size}");
    }
}
