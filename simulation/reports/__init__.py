"""Every figure (house style) and every document: CSV, Excel, PNG, PowerPoint, HTML, PDF."""
