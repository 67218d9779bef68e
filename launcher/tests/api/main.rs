mod business_process;
mod compose;
mod helpers;
mod quickstart;
mod supervision;
