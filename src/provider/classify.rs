//! Turning transport and HTTP errors into `ErrorClass`es.
