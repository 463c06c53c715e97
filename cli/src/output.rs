//! Printing replies and errors, as text for people or as JSON lines for programs.

use prost_reflect::{DescriptorPool, DynamicMessage, SerializeOptions};
use tonic::{
    Status,
    metadata::{KeyAndValueRef, MetadataMap},
};

use crate::args::Format;

#[derive(Debug)]
pub struct Printer {
    format: Format,
    /// Show response metadata (`--verbose`).
    verbose: bool,
    /// The descriptors of every message, for protobuf's canonical JSON mapping.
    pool: DescriptorPool,
}

impl Printer {
    pub fn new(format: Format, verbose: bool) -> Self {
        Self {
            format,
            verbose,
            pool: DescriptorPool::decode(proto::FILE_DESCRIPTOR_SET)
                .expect("the descriptor set generated at build time decodes"),
        }
    }

    pub fn is_json(&self) -> bool {
        self.format == Format::Json
    }

    pub fn is_verbose(&self) -> bool {
        self.verbose
    }

    /// Prints one reply: `text(message)` in text mode, the message as JSON otherwise.
    /// `type_name` is its full protobuf name, e.g. `weather.v1.CurrentConditions`.
    pub fn reply<M: prost::Message>(
        &self,
        type_name: &str,
        message: &M,
        text: impl FnOnce(&M) -> String,
    ) {
        match self.format {
            Format::Text => println!("{}", text(message)),
            Format::Json => println!("{}", self.json(type_name, message)),
        }
    }

    fn json<M: prost::Message>(&self, type_name: &str, message: &M) -> String {
        let descriptor = self
            .pool
            .get_message_by_name(type_name)
            .unwrap_or_else(|| panic!("{type_name} is in the descriptor set"));
        let dynamic = DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice())
            .expect("a message decodes as its own type");
        let mut json = serde_json::Serializer::new(Vec::new());
        // Zero values are printed too: `"count": 0` is an answer, not a missing field.
        dynamic
            .serialize_with_options(
                &mut json,
                &SerializeOptions::new().skip_default_fields(false),
            )
            .expect("serializing to memory cannot fail");
        String::from_utf8(json.into_inner()).expect("serde_json writes UTF-8")
    }

    /// With `--verbose`, prints response metadata on stderr, one `< key: value` a line
    /// (binary values base64, as on the wire).
    pub fn metadata(&self, what: &str, metadata: &MetadataMap) {
        if !self.verbose {
            return;
        }
        eprintln!("< ({what})");
        for entry in metadata.iter() {
            match entry {
                KeyAndValueRef::Ascii(key, value) => {
                    eprintln!("< {key}: {}", value.to_str().unwrap_or("(not text)"));
                }
                KeyAndValueRef::Binary(key, value) => {
                    eprintln!(
                        "< {key}: {}",
                        String::from_utf8_lossy(value.as_encoded_bytes())
                    );
                }
            }
        }
    }

    /// Prints a failed call on stderr: code, message, and the details a user can act on.
    pub fn error(&self, status: &Status) {
        let code = proto::status::code_name(status.code());
        let details = proto::status::details(status);
        match self.format {
            Format::Text => {
                eprintln!("error: {code}: {}", status.message());
                for detail in details {
                    eprintln!("  {detail}");
                }
            }
            Format::Json => eprintln!(
                "{}",
                serde_json::json!({ "code": code, "message": status.message(), "details": details })
            ),
        }
    }
}
