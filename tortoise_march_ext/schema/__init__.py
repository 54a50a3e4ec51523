"""Value objects of the schema and the one module that reads Tortoise models."""
