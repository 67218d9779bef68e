mod business_process;
mod helpers;
mod quickstart;
