//! The `hark` binary: a thin shell over [`hark::cli`].

fn main() -> std::process::ExitCode {
    hark::cli::main()
}
