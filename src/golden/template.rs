//! Handlebars templating in strict mode: an undefined variable is an error, never "".
