use rmq_runtime::context::AppContext;
use rmq_runtime::macros::rocketmq_transaction_listener;
use rmq_runtime::producer::LocalTransactionState;
use rmq_runtime::{LocalTransactionListener, Message, MessageExt};

#[derive(Default)]
struct OrderTx;

#[rocketmq_transaction_listener(template_name = "txTemplate")]
impl LocalTransactionListener for OrderTx {
    type Arg = ();

    async fn execute(&self, _msg: &Message, _arg: &(), _ctx: &AppContext) -> LocalTransactionState {
        LocalTransactionState::Commit
    }

    async fn check(&self, _msg: &MessageExt, _ctx: &AppContext) -> LocalTransactionState {
        LocalTransactionState::Commit
    }
}

fn main() {}
