//! Identity headers rendered from one session, kept with it: a session the cache hands out
//! again is answered without rendering its claims again. Never stored, never compared.

use std::sync::{Arc, Mutex};

use http::{HeaderName, HeaderValue};

/// One profile's rendered headers.
pub type Headers = Arc<[(HeaderName, HeaderValue)]>;

/// At most this many profiles' headers per session (one person uses few apps within a
/// cache lifetime); others are rendered each time.
const PROFILES: usize = 8;

/// Rendered headers by profile, for the session that holds them.
#[derive(Default)]
pub struct Rendered(Mutex<Vec<(usize, Headers)>>);

impl Rendered {
    /// The headers for the profile `key` (its address: profiles live as long as the
    /// process), rendered with `render` the first time.
    pub fn get_or(
        &self,
        key: usize,
        render: impl FnOnce() -> Vec<(HeaderName, HeaderValue)>,
    ) -> Headers {
        let Ok(mut kept) = self.0.lock() else {
            return render().into();
        };
        if let Some((_, h)) = kept.iter().find(|(k, _)| *k == key) {
            return Arc::clone(h);
        }
        let headers: Headers = render().into();
        if kept.len() < PROFILES {
            kept.push((key, Arc::clone(&headers)));
        }
        headers
    }
}

/// A copy starts empty: what is rendered belongs to the value it was rendered from.
impl Clone for Rendered {
    fn clone(&self) -> Self {
        Self::default()
    }
}

/// Rendering is a cache: two sessions are equal whatever either has rendered.
impl PartialEq for Rendered {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for Rendered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Rendered(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendered_once_per_profile_and_bounded() {
        let r = Rendered::default();
        let calls = std::cell::Cell::new(0);
        let render = || {
            calls.set(calls.get() + 1);
            vec![(
                HeaderName::from_static("x-user"),
                HeaderValue::from_static("alice"),
            )]
        };
        let a = r.get_or(1, render);
        let b = r.get_or(1, render);
        assert_eq!(calls.get(), 1);
        assert!(Arc::ptr_eq(&a, &b));
        r.get_or(2, render);
        assert_eq!(calls.get(), 2);
        for k in 3..20 {
            r.get_or(k, render);
        }
        r.get_or(19, render);
        assert_eq!(calls.get(), 20, "beyond the bound, rendered each time");
        assert_eq!(r.clone().0.lock().unwrap().len(), 0, "a copy starts empty");
    }
}
