# src/RTC/DtlsTransport.cpp, onSslBioOut(): OpenSSL calls the BIO callback
# after every operation with BIO_CB_RETURN OR'ed into the operation type
# (BIO_CB_CTRL|BIO_CB_RETURN, BIO_CB_WRITE|BIO_CB_RETURN, ...), and the
# callback's return value replaces the operation's result. Upstream tests
# `operationType == BIO_CB_RETURN`, which never matches, so it answers 1 to
# every control query. With Debian's OpenSSL (kernel TLS compiled in) that
# makes BIO_get_ktls_send() look true and the worker segfaults on the first
# DTLS handshake. Pass the real result through for every *_RETURN call.
s/(operationType == BIO_CB_RETURN)/((operationType \& BIO_CB_RETURN) != 0)/
