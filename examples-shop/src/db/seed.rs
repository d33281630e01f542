//! The demo's seed data: users with a balance, goods with stock, coupons. Inserted when missing.
//!
//! Amounts are cents; the course notes' test order (goods price 5000, money paid 100, a 100 coupon, pay
//! 4800) is in yuan, so here the phone costs 500000 cents and the coupons are worth 10000.

use sha2::{Digest, Sha256};

/// A seed user.
#[derive(Debug, Clone, Copy)]
pub struct SeedUser {
    /// Id.
    pub user_id: i64,
    /// Name.
    pub user_name: &'static str,
    /// Password (stored only as a salted hash).
    pub password: &'static str,
    /// Mobile.
    pub user_mobile: &'static str,
    /// Balance in cents.
    pub user_money: i64,
}

/// A seed goods row.
#[derive(Debug, Clone, Copy)]
pub struct SeedGoods {
    /// Id.
    pub goods_id: i64,
    /// Name.
    pub goods_name: &'static str,
    /// Stock.
    pub goods_number: i64,
    /// Price in cents.
    pub goods_price: i64,
    /// Description.
    pub goods_desc: &'static str,
}

/// A seed coupon.
#[derive(Debug, Clone, Copy)]
pub struct SeedCoupon {
    /// Id.
    pub coupon_id: i64,
    /// Value in cents.
    pub coupon_price: i64,
    /// Owner.
    pub user_id: i64,
}

/// All seed rows.
#[derive(Debug, Clone, Copy)]
pub struct SeedData {
    /// Users.
    pub users: &'static [SeedUser],
    /// Goods.
    pub goods: &'static [SeedGoods],
    /// Coupons.
    pub coupons: &'static [SeedCoupon],
}

macro_rules! coupons {
    ($($id:expr => $user:expr),* $(,)?) => {
        &[$(SeedCoupon { coupon_id: $id, coupon_price: 10_000, user_id: $user }),*]
    };
}

/// The seed rows.
pub static SEED: SeedData = SeedData {
    users: &[
        SeedUser {
            user_id: 1,
            user_name: "alice",
            password: "alice-password",
            user_mobile: "13800000001",
            user_money: 10_000_000,
        },
        SeedUser {
            user_id: 2,
            user_name: "bob",
            password: "bob-password",
            user_mobile: "13800000002",
            user_money: 50_000,
        },
    ],
    goods: &[
        SeedGoods {
            goods_id: 1,
            goods_name: "phone",
            goods_number: 1_000,
            goods_price: 500_000,
            goods_desc: "the notes' test goods: 5000.00",
        },
        SeedGoods {
            goods_id: 2,
            goods_name: "book",
            goods_number: 1_000,
            goods_price: 5_000,
            goods_desc: "cheap enough to pay shipping",
        },
    ],
    coupons: coupons![
        101 => 1, 102 => 1, 103 => 1, 104 => 1, 105 => 1, 106 => 1, 107 => 1, 108 => 1, 109 => 1, 110 => 1,
        201 => 2, 202 => 2,
    ],
};

/// The seed data.
pub fn seed_data() -> &'static SeedData {
    &SEED
}

/// `sha256$<salt>$<hex digest of salt ‖ password>`, the salt derived from the name and the clock.
///
/// A salted SHA-256 keeps plain text out of the table, which is all the demo data needs; a shop with real
/// logins would use a slow password hash (argon2, scrypt) instead.
pub(crate) fn password_hash(user_name: &str, password: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let salt = hex(&Sha256::digest(format!("{user_name}:{nanos}").as_bytes())[..16]);
    let digest = Sha256::digest(format!("{salt}{password}").as_bytes());
    format!("sha256${salt}${}", hex(&digest))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_hash_is_salted_and_not_plain() {
        let a = password_hash("alice", "pw");
        assert!(a.starts_with("sha256$") && !a.contains("pw"));
        assert_eq!(a.split('$').count(), 3);
    }
}
