//! The pay service: owns `trade_pay`, `trade_mq_producer_temp` (the outbox) and `trade_pay_log`.
