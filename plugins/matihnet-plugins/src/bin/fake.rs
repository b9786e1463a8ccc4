//! `matihnet-provider-fake`: the in-memory test provider as a plugin executable, which can be
//! told to misbehave (`matihnet_plugins::misbehave`) so the host's error paths are tested.

use matihnet_plugins::misbehave::{
    misbehave_after, newer_protocol, MisbehavingFactory, Misbehaviour,
};

fn main() -> std::process::ExitCode {
    let version = env!("CARGO_PKG_VERSION");
    match Misbehaviour::from_env().and_then(|how| Ok((how, misbehave_after()?))) {
        Err(e) => {
            eprintln!("{e}");
            std::process::ExitCode::FAILURE
        }
        Ok((None, _)) => matihnet_plugin::serve::main(matihnet_provider_fake::FakeFactory, version),
        Ok((Some(Misbehaviour::NewerProtocol), _)) => newer_protocol(),
        Ok((Some(how), after)) => {
            matihnet_plugin::serve::main(MisbehavingFactory { how, after }, version)
        }
    }
}
