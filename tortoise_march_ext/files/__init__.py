"""Migration files: serializer, layout, writer and loader."""
