"""Standards a client is assessed against: questionnaires (pydantic schema), the shipped
catalog (YAML: policy-procedure, nist-csf-2, hipaa-security) and the MSP's own."""
