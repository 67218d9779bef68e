//! RabbitMQ: connecting, the system's topology, and publishing with confirms.

mod connection;
pub mod consumer;
mod message;
pub mod topology;

pub use connection::{AmqpSettings, CLOSE_TIMEOUT, DEFAULT_AMQP_URL, close_within, connect};
pub use consumer::{ConsumerSettings, DeliveryHandler, Handled, delivery_span, run_consumer};
pub use message::{OutgoingMessage, new_traceparent, properties, traceparent_header};
pub use topology::declare_topology;
