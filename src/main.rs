fn main() -> std::process::ExitCode {
    woocommerce_sync::cli::main()
}
