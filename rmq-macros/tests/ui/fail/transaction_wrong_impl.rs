use rmq_runtime::macros::rocketmq_transaction_listener;

struct OrderTx;

#[rocketmq_transaction_listener(template = "txTemplate")]
impl Default for OrderTx {
    fn default() -> Self {
        OrderTx
    }
}

fn main() {}
