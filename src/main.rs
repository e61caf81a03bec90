fn main() -> std::process::ExitCode {
    prflow::cli::main()
}
