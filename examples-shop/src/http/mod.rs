//! The HTTP API (axum), with the course notes' paths.
//!
//! | method | path | body / answer |
//! |---|---|---|
//! | POST | `/order/confirm` | [`ConfirmOrder`] → the confirmed order |
//! | POST | `/pay/createPayment` | [`CreatePayment`] → the payment (is_paid 1) |
//! | POST | `/pay/callbackPayment` | [`PayCallback`] → the payment (is_paid 2), or "already paid" |
//! | GET | `/order/{id}`, `/user/{id}`, `/goods`, `/goods/{id}`, `/coupons`, `/coupon/{id}`, `/pay/{id}` | the row(s) |
//! | GET | `/mq/consumer-log` | every consumer-log row |
//!
//! Money is integer cents throughout. Every refusal is `{"code": "...", "message": "..."}` with a 4xx/5xx
//! status ([`ShopError::status`]); malformed JSON and bad path ids are `REQUEST_INVALID`. Database and broker
//! details are logged, not sent.

use std::future::Future;

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;

use crate::db::{ConsumerLogRow, Coupon, Goods, Pay, TradeOrder, User};
use crate::error::ShopError;
use crate::service::order::ConfirmOrder;
use crate::service::pay::{CreatePayment, PayCallback};
use crate::service::AnyShop;

/// The JSON error body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ErrorBody {
    /// Stable code, e.g. `GOODS_NUM_NOT_ENOUGH`.
    pub code: String,
    /// Readable message.
    pub message: String,
}

/// A refusal as an HTTP response.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: ErrorBody,
}

impl From<ShopError> for ApiError {
    fn from(e: ShopError) -> Self {
        match &e {
            ShopError::Database(_) | ShopError::Messaging(_) | ShopError::NotStarted(_) => {
                tracing::error!(error = %e, "request failed");
            }
            _ => tracing::debug!(error = %e, "request refused"),
        }
        ApiError {
            status: StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            body: ErrorBody {
                code: e.code().to_string(),
                message: e.public_message(),
            },
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(e: JsonRejection) -> Self {
        ShopError::InvalidRequest(e.body_text()).into()
    }
}

impl From<PathRejection> for ApiError {
    fn from(e: PathRejection) -> Self {
        ShopError::InvalidRequest(e.body_text()).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

type ApiResult<T> = Result<Json<T>, ApiError>;

/// The router over a started shop.
pub fn router(shop: AnyShop) -> Router {
    Router::new()
        .route("/order/confirm", post(confirm_order))
        .route("/order/{id}", get(order))
        .route("/pay/createPayment", post(create_payment))
        .route("/pay/callbackPayment", post(callback_payment))
        .route("/pay/{id}", get(pay))
        .route("/user/{id}", get(user))
        .route("/goods", get(list_goods))
        .route("/goods/{id}", get(goods))
        .route("/coupons", get(list_coupons))
        .route("/coupon/{id}", get(coupon))
        .route("/mq/consumer-log", get(consumer_log))
        .fallback(not_found)
        .with_state(shop)
}

/// Serves the API on `listener` until `shutdown` completes (in-flight requests finish first).
///
/// # Errors
/// The server's I/O error.
pub async fn serve(
    listener: tokio::net::TcpListener,
    shop: AnyShop,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(shop))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn not_found() -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        body: ErrorBody {
            code: "NOT_FOUND".into(),
            message: "no such endpoint".into(),
        },
    }
}

async fn confirm_order(
    State(shop): State<AnyShop>,
    req: Result<Json<ConfirmOrder>, JsonRejection>,
) -> ApiResult<TradeOrder> {
    let Json(req) = req?;
    Ok(Json(shop.confirm_order(&req).await?))
}

async fn create_payment(
    State(shop): State<AnyShop>,
    req: Result<Json<CreatePayment>, JsonRejection>,
) -> ApiResult<Pay> {
    let Json(req) = req?;
    Ok(Json(shop.create_payment(&req).await?))
}

async fn callback_payment(
    State(shop): State<AnyShop>,
    req: Result<Json<PayCallback>, JsonRejection>,
) -> ApiResult<Pay> {
    let Json(req) = req?;
    Ok(Json(shop.callback_payment(&req).await?))
}

async fn order(
    State(shop): State<AnyShop>,
    id: Result<Path<i64>, PathRejection>,
) -> ApiResult<TradeOrder> {
    let Path(id) = id?;
    Ok(Json(shop.order(id).await?))
}

async fn pay(State(shop): State<AnyShop>, id: Result<Path<i64>, PathRejection>) -> ApiResult<Pay> {
    let Path(id) = id?;
    Ok(Json(shop.pay(id).await?))
}

async fn user(
    State(shop): State<AnyShop>,
    id: Result<Path<i64>, PathRejection>,
) -> ApiResult<User> {
    let Path(id) = id?;
    Ok(Json(shop.user(id).await?))
}

async fn goods(
    State(shop): State<AnyShop>,
    id: Result<Path<i64>, PathRejection>,
) -> ApiResult<Goods> {
    let Path(id) = id?;
    Ok(Json(shop.goods(id).await?))
}

async fn list_goods(State(shop): State<AnyShop>) -> ApiResult<Vec<Goods>> {
    Ok(Json(shop.list_goods().await?))
}

async fn coupon(
    State(shop): State<AnyShop>,
    id: Result<Path<i64>, PathRejection>,
) -> ApiResult<Coupon> {
    let Path(id) = id?;
    Ok(Json(shop.coupon(id).await?))
}

async fn list_coupons(State(shop): State<AnyShop>) -> ApiResult<Vec<Coupon>> {
    Ok(Json(shop.list_coupons().await?))
}

async fn consumer_log(State(shop): State<AnyShop>) -> ApiResult<Vec<ConsumerLogRow>> {
    Ok(Json(shop.consumer_log().await?))
}
