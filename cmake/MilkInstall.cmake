# Install rules: placeholder, see issue 2 §6.
