"""The report the owner pays for: one audit as a branded web page and PDF, shareable by a secret link."""
