//! A listener's name checked by the compiler: what [`listener!`](crate::listener!) gives, usable wherever a
//! listener is named by string (`only_listeners`, `await_handled`, `listener_stats`).

use std::fmt;

/// The name of a `#[rocketmq_listener]` function, made by [`listener!`](crate::listener!) from the function
/// itself, so a misspelt or removed listener is a compile error instead of a test that waits in vain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ListenerName(&'static str);

impl ListenerName {
    /// The name for the function at `path` (as `stringify!` writes it): its last segment, which is the name
    /// the listener is registered under. Called by [`listener!`](crate::listener!).
    pub fn from_path(path: &'static str) -> Self {
        let last = path.rsplit("::").next().unwrap_or(path).trim();
        ListenerName(last)
    }

    /// The registered name.
    pub fn as_str(&self) -> &'static str {
        self.0
    }
}

impl AsRef<str> for ListenerName {
    fn as_ref(&self) -> &str {
        self.0
    }
}

impl From<ListenerName> for String {
    fn from(n: ListenerName) -> String {
        n.0.to_string()
    }
}

impl fmt::Display for ListenerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// The [`ListenerName`] of a `#[rocketmq_listener]` function, checked by the compiler:
/// `only_listeners([listener!(on_cancel)])`, `await_handled(&app, listener!(on_cancel), 1, t)`.
/// The function may be named by a path (`listener!(orders::on_cancel)`).
#[macro_export]
macro_rules! listener {
    ($f:path) => {{
        // Naming the function makes a typo a compile error ("cannot find value").
        let _ = $f;
        $crate::listener::ListenerName::from_path(::core::stringify!($f))
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_is_the_last_path_segment() {
        assert_eq!(ListenerName::from_path("on_cancel").as_str(), "on_cancel");
        assert_eq!(
            ListenerName::from_path("crate :: orders :: on_cancel").as_str(),
            "on_cancel"
        );
        assert_eq!(String::from(ListenerName::from_path("a::b")), "b");
    }
}
