//! Disk usage of the store's file system (`statvfs`), with an injectable probe for tests.

use std::path::Path;

use super::config::StoreConfig;

/// Used fraction (0.0..=1.0) of the file system holding `path`, as Java computes it:
/// `(total − free) / total`. Unknown (error) reads as 0.
pub(crate) fn used_ratio(cfg: &StoreConfig, path: &Path) -> f64 {
    if let Some(probe) = &cfg.disk_usage_probe {
        return (probe.0)(path);
    }
    match cfg.fs.used_ratio(path) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "statvfs failed");
            0.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::config::DiskUsageProbe;
    use std::sync::Arc;

    #[test]
    fn real_and_injected() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = StoreConfig::with_root(dir.path());
        let r = used_ratio(&cfg, dir.path());
        assert!((0.0..=1.0).contains(&r));
        cfg.disk_usage_probe = Some(DiskUsageProbe(Arc::new(|_| 0.9)));
        assert_eq!(used_ratio(&cfg, dir.path()), 0.9);
    }
}
