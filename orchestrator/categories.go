package orchestrator

// Category is one of the catalog's categories: its key (what a bundle's
// custom.sh.websoft9.category holds) and its names in the console's
// languages.
type Category struct {
	Key string
	En  string
	Zh  string
}

// Categories are the catalog's categories, in the order the console lists
// them: the union of what the stores self-hosters use need (see
// docs/store-formats.md), each app in exactly one.
var Categories = []Category{
	{"productivity", "Productivity", "效率办公"},
	{"project-management", "Project management", "项目管理"},
	{"collaboration", "Collaboration", "协作"},
	{"wiki", "Wiki & knowledge", "知识库"},
	{"communication", "Communication & chat", "通讯聊天"},
	{"chat", "Chat", "聊天"},
	{"developer", "Developer tools", "开发工具"},
	{"devops", "DevOps", "运维"},
	{"cms", "CMS & website", "网站与内容管理"},
	{"blog", "Blog", "博客"},
	{"e-commerce", "E-commerce", "电子商务"},
	{"erp", "ERP & CRM", "企业管理"},
	{"media", "Media & streaming", "影音媒体"},
	{"photos", "Photos", "照片"},
	{"files", "Files & sync", "文件与同步"},
	{"finance", "Finance", "财务"},
	{"home-automation", "Home automation", "智能家居"},
	{"security", "Security & VPN", "安全与 VPN"},
	{"network", "Network", "网络"},
	{"ai", "AI", "人工智能"},
	{"analytics", "Analytics", "数据分析"},
	{"monitoring", "Monitoring", "监控"},
	{"automation", "Automation", "自动化"},
	{"database", "Database", "数据库"},
	{"education", "Education", "教育"},
	{"games", "Games", "游戏"},
	{"social", "Social", "社交"},
	{"utilities", "Utilities", "实用工具"},
}

// CategoryOf returns the category with key, and whether there is one.
func CategoryOf(key string) (Category, bool) {
	for _, c := range Categories {
		if c.Key == key {
			return c, true
		}
	}
	return Category{}, false
}
