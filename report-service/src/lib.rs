//! report-service: the worker that consumes report jobs from RabbitMQ, builds the reports,
//! stores them for download, and pushes completion to browsers over WebSocket (authenticated
//! with `zayavki_identity::authenticate_websocket`).
